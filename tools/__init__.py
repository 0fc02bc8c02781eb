"""Command-line tools around PaySettle: not packaged into the Lambdas."""
