-- small_request.lua -- wrk script: POST bench/small_request.json (a (1,1,4,4)
-- max_unpool request, 261 bytes) on every request of a keep-alive connection.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":{"x":{"dtype":"float32","shape":[1,1,4,4],"data":[0.0,1.0,2.0,3.0,4.0,5.0,6.0,7.0,8.0,9.0,10.0,11.0,12.0,13.0,14.0,15.0]},"indices":{"dtype":"int64","shape":[1,1,4,4],"data":[0,10,4,14,17,27,21,31,32,42,36,46,49,59,53,63]}},"params":{"kernel_size":2}}'
