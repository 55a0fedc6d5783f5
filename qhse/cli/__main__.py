from qhse.cli import main

main()
