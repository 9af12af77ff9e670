from feedtool.cli import script

if __name__ == "__main__":  # not when a pool process imports it as __mp_main__
    script()
