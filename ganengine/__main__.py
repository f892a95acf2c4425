import sys

from ganengine.cli import main

sys.exit(main())
