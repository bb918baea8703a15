"""The operator layer above the flows: the ``loyalty`` command, the Prefect server and deployments, alerts."""
