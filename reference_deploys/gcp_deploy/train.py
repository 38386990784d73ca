"""Train the reference iris classifier for Vertex AI's prebuilt scikit-learn container.

    pip install scikit-learn==1.2.2 joblib   # the scikit-learn of sklearn-cpu.1-2
    python train.py                           # writes model.joblib

Vertex loads exactly one file named model.joblib (or model.pkl) from the artifact folder.
"""
import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def train():
    X, y = load_iris(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


if __name__ == "__main__":
    joblib.dump(train(), "model.joblib")
