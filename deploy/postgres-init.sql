-- MLflow keeps its runs and registry in its own database on the same server.
CREATE DATABASE qhse_mlflow OWNER qhse;
