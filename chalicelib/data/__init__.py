"""The data layer: PynamoDB models of every item type, bound lazily to the stage's tables."""
