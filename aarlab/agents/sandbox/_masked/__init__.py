"""Stands in, inside the agent sandbox, for a hidden dataset builder or data-source package (docs/sandbox.md).

The sandbox binds this directory over each hidden package, so importing one fails with this message.
"""

raise ModuleNotFoundError(
    f"{__name__} is not available inside the agent sandbox: dataset builders and the packages datasets were made "
    "from are hidden there, so that no label can be regenerated (see docs/sandbox.md, 'What the sandbox hides')",
    name=__name__)
