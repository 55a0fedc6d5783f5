from qhse.cli.root import main

main()
