"""Training: MNIST loading, input corruptions, trainers, recipes and evaluation.

Needs the ``[train]`` extra (torch). Import the submodules you need, e.g.
``from aezoo.data.mnist import load_mnist``; nothing heavy is imported here.
"""
