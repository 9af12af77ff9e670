import sys

from feedtool.cli import main

if __name__ == "__main__":  # not when a pool process imports it as __mp_main__
    sys.exit(main())
