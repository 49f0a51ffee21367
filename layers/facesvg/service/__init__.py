"""The application around the render core: jobs, content hashing, storage, queue, API.

Nothing here does image math (that is ``facesvg.core``); only ``aws/`` talks to AWS.
"""
