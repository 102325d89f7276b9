# Production image: the official Airflow image plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/requirements/
RUN pip install --no-cache-dir -r /opt/airflow/requirements/requirements.txt \
        -c /opt/airflow/requirements/constraints.txt
