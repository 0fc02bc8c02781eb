"""A boto3 client stand-in whose API calls can be intercepted by the tests' fault and observation wrappers."""


class ClientProxy:
    """API calls (all, or only those in `operations`) go to `_call`; everything else passes through."""

    def __init__(self, client, operations=None):
        self._client = client
        self._wanted = None if operations is None else set(operations)
        self._operations = client.meta.method_to_api_mapping  # python name -> API name

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        operation = self._operations.get(name)
        if operation is None or (self._wanted is not None and operation not in self._wanted):
            return attribute

        def call(*args, **kwargs):
            return self._call(operation, attribute, *args, **kwargs)

        call.__name__ = name
        return call

    def _call(self, operation, method, *args, **kwargs):
        raise NotImplementedError
