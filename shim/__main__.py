import sys

from shim.main import main

sys.exit(main())
