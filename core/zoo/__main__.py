from zoo._cli import main

raise SystemExit(main())
