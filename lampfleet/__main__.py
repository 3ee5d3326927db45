from lampfleet.cli import main

main()
