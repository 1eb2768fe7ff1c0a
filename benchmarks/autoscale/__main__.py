import sys

from benchmarks.autoscale.run import main

sys.exit(main())
