"""Balance recycling (话费余额回收): a seller sells the prepaid balance of their own number."""
