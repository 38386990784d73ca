"""Train the reference iris classifier and package it for SageMaker.

    pip install scikit-learn==1.2.1 joblib   # the scikit-learn of framework_version "1.2-1"
    python train.py                           # writes model.joblib and model.tar.gz

The pickle must come from the same scikit-learn release the serving image runs (1.2.1 for
framework_version "1.2-1"); deploycheck's artifact.version check compares the two.
"""
import tarfile

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train():
    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def package(model_file="model.joblib", archive="model.tar.gz"):
    # SageMaker extracts the archive into /opt/ml/model: the model file must sit at its root.
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_file, arcname=model_file)


if __name__ == "__main__":
    joblib.dump(train(), "model.joblib")
    package()
