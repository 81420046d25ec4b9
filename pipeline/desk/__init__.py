"""The service desk: views of the queue and the actions a desk officer takes."""
