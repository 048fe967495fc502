"""``python -m training.data.copy_paste``."""

from training.data.copy_paste.cli import main

raise SystemExit(main())
