"""Generate deploycheck/analysis/pickle_allowlist.json: the exact (module, name) globals a scikit-learn model
pickle may reference, for every scikit-learn a serving image uses.

    python scripts/gen_pickle_allowlist.py WHEEL_DIR > deploycheck/analysis/pickle_allowlist.json

WHEEL_DIR holds scikit-learn wheels (``pip download --no-deps --only-binary :all:
--python-version 3.X scikit-learn==V``); the installed scikit-learn, numpy and scipy are added.
Nothing is imported from the wheels: classes come from the ``class`` statements of their .py files
(ast) and from the type names Cython writes into compiled modules (``sklearn.tree._tree.Tree``).
Metric and score functions (``sklearn.metrics``, a saved GridSearchCV's scorer; ``f_classif`` and
friends, SelectKBest's default) are the only functions allowed from scikit-learn. Modules that read or write files, fetch data, or exist for tests are left
out. scikit-learn 0.22 moved its modules to private names and kept the old ones as aliases; the
old names come from its ``sklearn/_build_utils/deprecated_modules.py`` (0.22.x) and are added for
0.20/0.21 pickles.
"""
from __future__ import annotations

import ast
import inspect
import json
import pkgutil
import re
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

DENY_PARTS = {"tests", "_testing", "testing", "datasets", "externals", "_build_utils", "setup", "conftest",
              "_mocking", "mocking", "_show_versions", "estimator_checks", "_estimator_html_repr", "_plot",
              "_pprint", "_arpack", "__check_build", "_config", "_distributor_init", "_min_dependencies",
              "_unittest_backport", "_plotting", "_repr_html", "parallel", "_joblib"}
# Callables that run other code or touch the file system when built or called (joblib wrappers).
DENY_NAMES = {"Memory", "Parallel", "parallel_backend", "_FuncWrapper", "delayed", "TestCase"}
METRIC_MODULES = re.compile(r"^sklearn\.(metrics\.(_classification|_regression|_ranking|classification|regression|"
                            r"ranking|cluster\.(_supervised|_unsupervised|supervised|unsupervised)|pairwise)|"
                            r"feature_selection\.(_univariate_selection|univariate_selection|_mutual_info|mutual_info_))$")
CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
# (new private module, deprecated public path): scikit-learn 0.22 sklearn/_build_utils/deprecated_modules.py
RENAMED_022 = [
    ("_bagging", "sklearn.ensemble.bagging"), ("_base", "sklearn.ensemble.base"), ("_forest", "sklearn.ensemble.forest"),
    ("_gb", "sklearn.ensemble.gradient_boosting"), ("_iforest", "sklearn.ensemble.iforest"),
    ("_voting", "sklearn.ensemble.voting"), ("_weight_boosting", "sklearn.ensemble.weight_boosting"),
    ("_classes", "sklearn.tree.tree"), ("_rbm", "sklearn.neural_network.rbm"),
    ("_multilayer_perceptron", "sklearn.neural_network.multilayer_perceptron"),
    ("_weight_vector", "sklearn.utils.weight_vector"), ("_seq_dataset", "sklearn.utils.seq_dataset"),
    ("_fast_dict", "sklearn.utils.fast_dict"), ("_affinity_propagation", "sklearn.cluster.affinity_propagation_"),
    ("_bicluster", "sklearn.cluster.bicluster"), ("_birch", "sklearn.cluster.birch"), ("_dbscan", "sklearn.cluster.dbscan_"),
    ("_agglomerative", "sklearn.cluster.hierarchical"), ("_kmeans", "sklearn.cluster.k_means_"),
    ("_mean_shift", "sklearn.cluster.mean_shift_"), ("_optics", "sklearn.cluster.optics_"),
    ("_spectral", "sklearn.cluster.spectral"), ("_base", "sklearn.mixture.base"),
    ("_gaussian_mixture", "sklearn.mixture.gaussian_mixture"), ("_bayesian_mixture", "sklearn.mixture.bayesian_mixture"),
    ("_empirical_covariance", "sklearn.covariance.empirical_covariance_"),
    ("_shrunk_covariance", "sklearn.covariance.shrunk_covariance_"),
    ("_robust_covariance", "sklearn.covariance.robust_covariance"), ("_graph_lasso", "sklearn.covariance.graph_lasso_"),
    ("_elliptic_envelope", "sklearn.covariance.elliptic_envelope"), ("_cca", "sklearn.cross_decomposition.cca_"),
    ("_pls", "sklearn.cross_decomposition.pls_"), ("_base", "sklearn.svm.base"), ("_classes", "sklearn.svm.classes"),
    ("_base", "sklearn.decomposition.base"), ("_dict_learning", "sklearn.decomposition.dict_learning"),
    ("_factor_analysis", "sklearn.decomposition.factor_analysis"), ("_fastica", "sklearn.decomposition.fastica_"),
    ("_incremental_pca", "sklearn.decomposition.incremental_pca"), ("_kernel_pca", "sklearn.decomposition.kernel_pca"),
    ("_nmf", "sklearn.decomposition.nmf"), ("_lda", "sklearn.decomposition.online_lda"), ("_pca", "sklearn.decomposition.pca"),
    ("_sparse_pca", "sklearn.decomposition.sparse_pca"), ("_truncated_svd", "sklearn.decomposition.truncated_svd"),
    ("_gpr", "sklearn.gaussian_process.gpr"), ("_gpc", "sklearn.gaussian_process.gpc"),
    ("_dict_vectorizer", "sklearn.feature_extraction.dict_vectorizer"), ("_hash", "sklearn.feature_extraction.hashing"),
    ("_base", "sklearn.linear_model.base"), ("_bayes", "sklearn.linear_model.bayes"),
    ("_coordinate_descent", "sklearn.linear_model.coordinate_descent"), ("_huber", "sklearn.linear_model.huber"),
    ("_least_angle", "sklearn.linear_model.least_angle"), ("_logistic", "sklearn.linear_model.logistic"),
    ("_omp", "sklearn.linear_model.omp"), ("_passive_aggressive", "sklearn.linear_model.passive_aggressive"),
    ("_perceptron", "sklearn.linear_model.perceptron"), ("_ransac", "sklearn.linear_model.ransac"),
    ("_ridge", "sklearn.linear_model.ridge"), ("_sag_fast", "sklearn.linear_model.sag_fast"),
    ("_sgd_fast", "sklearn.linear_model.sgd_fast"), ("_stochastic_gradient", "sklearn.linear_model.stochastic_gradient"),
    ("_theil_sen", "sklearn.linear_model.theil_sen"), ("_supervised", "sklearn.metrics.cluster.supervised"),
    ("_unsupervised", "sklearn.metrics.cluster.unsupervised"), ("_classification", "sklearn.metrics.classification"),
    ("_regression", "sklearn.metrics.regression"), ("_ranking", "sklearn.metrics.ranking"), ("_scorer", "sklearn.metrics.scorer"),
    ("_ball_tree", "sklearn.neighbors.ball_tree"), ("_base", "sklearn.neighbors.base"),
    ("_classification", "sklearn.neighbors.classification"), ("_dist_metrics", "sklearn.neighbors.dist_metrics"),
    ("_graph", "sklearn.neighbors.graph"), ("_kd_tree", "sklearn.neighbors.kd_tree"), ("_kde", "sklearn.neighbors.kde"),
    ("_lof", "sklearn.neighbors.lof"), ("_nca", "sklearn.neighbors.nca"), ("_nearest_centroid", "sklearn.neighbors.nearest_centroid"),
    ("_quad_tree", "sklearn.neighbors.quad_tree"), ("_regression", "sklearn.neighbors.regression"),
    ("_typedefs", "sklearn.neighbors.typedefs"), ("_unsupervised", "sklearn.neighbors.unsupervised"),
    ("_isomap", "sklearn.manifold.isomap"), ("_locally_linear", "sklearn.manifold.locally_linear"), ("_mds", "sklearn.manifold.mds"),
    ("_spectral_embedding", "sklearn.manifold.spectral_embedding_"), ("_t_sne", "sklearn.manifold.t_sne"),
    ("_label_propagation", "sklearn.semi_supervised.label_propagation"), ("_data", "sklearn.preprocessing.data"),
    ("_label", "sklearn.preprocessing.label"), ("_base", "sklearn.feature_selection.base"),
    ("_from_model", "sklearn.feature_selection.from_model"), ("_mutual_info", "sklearn.feature_selection.mutual_info"),
    ("_rfe", "sklearn.feature_selection.rfe"), ("_univariate_selection", "sklearn.feature_selection.univariate_selection"),
    ("_variance_threshold", "sklearn.feature_selection.variance_threshold"),
]


def denied(module: str) -> bool:
    return any(p in DENY_PARTS for p in module.split(".")[1:])


def from_wheel(path: Path, table: dict[str, set[str]]) -> None:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if not name.startswith("sklearn/"):
                continue
            if name.endswith(".py"):
                module = name[:-3].replace("/", ".").removesuffix(".__init__")
                if denied(module):
                    continue
                try:
                    tree = ast.parse(z.read(name))
                except SyntaxError:
                    continue
                for node in tree.body:
                    if isinstance(node, ast.ClassDef):
                        table[module].add(node.name)
                    elif isinstance(node, ast.FunctionDef) and METRIC_MODULES.match(module) \
                            and not node.name.startswith("_"):
                        table[module].add(node.name)
            elif name.endswith(".so"):
                module = name.split(".")[0].replace("/", ".")
                if denied(module):
                    continue
                for m in re.finditer(rb"\b" + re.escape(module.encode()) + rb"\.([A-Za-z_][A-Za-z0-9_]*)\x00",
                                     z.read(name)):
                    cls = m.group(1).decode()
                    if CLASS_NAME.match(cls):
                        table[module].add(cls)


def from_installed(table: dict[str, set[str]]) -> None:
    import importlib
    import warnings
    import sklearn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(sklearn.__path__, "sklearn."):
            if denied(info.name):
                continue
            try:
                mod = importlib.import_module(info.name)
            except Exception:  # noqa: BLE001
                continue
            for n, obj in vars(mod).items():
                if inspect.isclass(obj) and obj.__module__ == info.name:
                    table[info.name].add(n)
                elif inspect.isfunction(obj) and METRIC_MODULES.match(info.name) and obj.__module__ == info.name \
                        and not n.startswith("_"):
                    table[info.name].add(n)


def scipy_numpy(table: dict[str, set[str]]) -> None:
    import numpy as np
    import scipy.sparse
    for n in dir(scipy.sparse):
        obj = getattr(scipy.sparse, n)
        if inspect.isclass(obj) and obj.__module__.startswith("scipy.sparse") and not n.startswith("_"):
            table[obj.__module__].add(n)
            short = obj.__module__.rsplit(".", 1)[-1].lstrip("_")                  # scipy < 1.8: scipy.sparse.csr
            table[f"scipy.sparse.{short}"].add(n)
            if n.endswith("_array"):                                                # scipy 1.8-1.10
                table["scipy.sparse._arrays"].add(n)
    for n in dir(np):
        obj = getattr(np, n)
        if isinstance(obj, np.ufunc) or (inspect.isclass(obj) and issubclass(obj, np.generic)):
            table["numpy"].add(n)


def main() -> None:
    table: dict[str, set[str]] = defaultdict(set)
    wheels = sorted(Path(sys.argv[1]).glob("scikit_learn-*.whl")) if len(sys.argv) > 1 else []
    for w in wheels:
        from_wheel(w, table)
    from_installed(table)
    for new, old in RENAMED_022:
        table[old] |= table.get(old.rsplit(".", 1)[0] + "." + new, set())
    scipy_numpy(table)
    import numpy
    import scipy
    import sklearn
    versions = [w.name.split("-")[1] for w in wheels] + [f"{sklearn.__version__} (installed)"]
    allowed = {module: sorted(set(names) - DENY_NAMES) for module, names in sorted(table.items())}
    print(to_json(f"scikit-learn {', '.join(versions)}; numpy {numpy.__version__}; scipy {scipy.__version__}.",
                  {module: names for module, names in allowed.items() if names}), end="")


def to_json(source: str, allowed: dict[str, list[str]]) -> str:
    """The data file: one line per module, so a regenerated table diffs module by module."""
    rows = [f"    {json.dumps(module)}: {json.dumps(names)}" for module, names in allowed.items()]
    return ("{\n" f'  "generated_by": "scripts/gen_pickle_allowlist.py (do not edit by hand)",\n'
            f'  "from": {json.dumps(source)},\n  "allowed": {{\n' + ",\n".join(rows) + "\n  }\n}\n")

if __name__ == "__main__":
    main()
