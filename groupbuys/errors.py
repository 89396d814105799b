class GroupBuyError(Exception):
    """A join or start the shop refuses, with the sentence the page shows."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
