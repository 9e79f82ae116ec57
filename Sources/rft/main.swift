print("rft")
