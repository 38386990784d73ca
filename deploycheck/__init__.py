"""deploycheck: grade and verify the 'deploy your scikit-learn model to AWS SageMaker or GCP' lab."""

__version__ = "0.1.0"
