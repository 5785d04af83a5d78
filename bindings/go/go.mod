module bitask.dev/bitask

go 1.19
