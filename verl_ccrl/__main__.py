import sys

from verl_ccrl.cli import main

sys.exit(main())
