"""Code that runs inside the stack's containers (trainer, drift monitor, model server).

Most of these modules import MLflow, scikit-learn and pandas (the `workloads` extra), and
nothing in the infrastructure layers imports those. `exit_codes` and `estimators` are the
exceptions, light enough for the spec and the components to share: the spec checks an
estimator path the way the trainer does, and a training Job knows the trainer's exit codes.
"""
