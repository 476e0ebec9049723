from tokmeter.cli import main

main()
