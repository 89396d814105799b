local lines = {893,894,895}
local round = 0
local body = function()
  round = round + 1
  local fields = {'next=/cart/'}
  for _, line in ipairs(lines) do
    fields[#fields + 1] = 'quantity-' .. line .. '=' .. (1 + round % 2)
    fields[#fields + 1] = 'selected-' .. line .. '=on'
  end
  return table.concat(fields, '&')
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "csrftoken=50goR1aKbuFTJPjhedDVgW1a72exUklk; messages=; sessionid=i9yhugztivpj1jg0cqhjdzhbbmyrqrcl"
request = function()
  return wrk.format(nil, nil, nil, body() .. '&csrfmiddlewaretoken=crKkGRwUBnViF0y03fp9cPvLZh5xQofP7hQynIwuCHq1eFH77iSUiBmLW99UAyqZ')
end
