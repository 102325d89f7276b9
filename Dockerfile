# Production image: the official Airflow image plus the product package (crm_reconciliation, with its
# provider and plugin entry points) under this project's pinned constraints. The development package
# (dev/: demo, stand-ins, generators, benchmarks) is never copied in.
FROM apache/airflow:3.3.2-python3.11

# requirements.txt pins the providers, the Celery one (CeleryExecutor: the compose workers) among them,
# over the versions the base image ships.
COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/requirements.txt \
        -c /opt/airflow/requirements/constraints.txt

COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/src/
COPY --chown=airflow:0 plugins/crm_reconciliation /opt/airflow/src/plugins/crm_reconciliation
COPY --chown=airflow:0 include/sql /opt/airflow/src/include/sql
COPY --chown=airflow:0 include/config /opt/airflow/src/include/config
COPY --chown=airflow:0 include/report /opt/airflow/src/include/report
COPY --chown=airflow:0 include/review /opt/airflow/src/include/review
RUN pip install --no-cache-dir /opt/airflow/src -c /opt/airflow/requirements/constraints.txt
