"""The MODEL.type words sauti knows, by task, importable without scikit-learn or torch.

Why apart from models.py: config checks run while Snakemake builds the DAG, where importing
scikit-learn (and scipy) would add a second to every `snakemake` call; they only need the names.
"""

CLASSIFIERS = ("svm", "xgb", "knn", "tree", "bayes", "gmm")
REGRESSORS = ("svr", "xgr", "knn_reg", "tree_reg", "lin_reg")
#: Torch models on a feature table (sauti.ml.deep; need the `deep` extra). Kept apart from the
#: classic tuples so code and tests that loop over those do not start training networks.
NEURAL_CLASSIFIERS = ("mlp", "cnn")
NEURAL_REGRESSORS = ("mlp_reg",)
