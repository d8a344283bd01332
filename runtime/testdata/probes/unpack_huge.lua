-- Eight million values on the stack.
-- limits: memory=64M
-- expect: limit.memory|error~unpack|stack|too many
unpack({}, 1, 8e6)
