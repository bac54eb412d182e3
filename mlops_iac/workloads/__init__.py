"""Code that runs inside the stack's containers (trainer, drift monitor).

These modules import MLflow, scikit-learn and pandas (the `workloads` extra); nothing in the
infrastructure layers imports them, so `import mlops_iac` stays fast.
"""
