"""Processor pages: a service provider, contractor or third party answers a fulfilment plan's item
(its single-use link, or a signed webhook reply). English only, like the notices they answer."""
