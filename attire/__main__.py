from attire.cli import main

raise SystemExit(main())
