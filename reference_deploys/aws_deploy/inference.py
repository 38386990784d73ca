"""SageMaker scikit-learn entry point.

The container extracts model.tar.gz into model_dir and calls model_fn once; the default
input_fn / predict_fn / output_fn then decode the request (JSON, CSV or NPY), call
model.predict and encode the answer in the Accept type.
"""
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
