from funchost.cli.main import main

raise SystemExit(main())
