import sys

from verl_ccrl.eval.cli import main

sys.exit(main())
