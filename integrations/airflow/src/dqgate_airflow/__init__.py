"""Apache Airflow provider for dqgate, the data-quality gate service.

`DqgateGateOperator` asks the gate whether a dataset may move on and turns
the decision into the task's outcome; `DqgateRunTrigger` waits for a run
without holding a worker slot; `DqgateRunSensor` waits for a run started
elsewhere; `DqgateHook` is the HTTP client over an Airflow connection.
"""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """What Airflow's provider manager reads through the entry point."""
    return {
        "package-name": "airflow-provider-dqgate",
        "name": "dqgate",
        "description": "dqgate data-quality gate: gate operator, deferrable trigger, run sensor.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "dqgate",
                "hook-class-name": "dqgate_airflow.hooks.DqgateHook",
            }
        ],
        "hooks": [
            {
                "integration-name": "dqgate",
                "python-modules": ["dqgate_airflow.hooks"],
            }
        ],
        "operators": [
            {
                "integration-name": "dqgate",
                "python-modules": ["dqgate_airflow.operators"],
            }
        ],
        "sensors": [
            {
                "integration-name": "dqgate",
                "python-modules": ["dqgate_airflow.sensors"],
            }
        ],
        "triggers": [
            {
                "integration-name": "dqgate",
                "python-modules": ["dqgate_airflow.triggers"],
            }
        ],
    }
