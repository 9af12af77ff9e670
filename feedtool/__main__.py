import sys

from feedtool.cli import main

sys.exit(main())
