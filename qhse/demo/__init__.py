"""Demo data generation and `qhse demo`."""
