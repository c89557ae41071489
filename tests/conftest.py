"""Suite-wide settings.

The on-disk cache of simulation results (dimensioning.result_cache) is off
for the whole suite, child processes included: a test that patches a
simulator or counts its runs must see it run. The cache's own tests switch
it on with a temporary folder.
"""

import os

os.environ["LPUPLAN_NO_CACHE"] = "1"
