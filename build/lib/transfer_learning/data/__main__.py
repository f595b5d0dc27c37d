"""``python -m transfer_learning.data fetch``: fetch and verify MNIST into the data folder."""

from . import main

raise SystemExit(main())
