// Validates an OpenAPI document with @apidevtools/swagger-parser (schema
// of the OpenAPI 3.0 specification, $refs resolved); prints one line and
// exits 0 when valid, 1 with the validator's message otherwise.
"use strict";
const path = require("path");
const SwaggerParser = require(path.join(process.env.TV_OPENAPI_DEPS, "node_modules", "@apidevtools", "swagger-parser"));

SwaggerParser.validate(process.argv[2])
  .then((api) => {
    console.log("valid: " + api.info.title + " " + api.info.version + ", " + Object.keys(api.paths).length + " paths");
  })
  .catch((err) => {
    console.error("invalid: " + err.message);
    process.exit(1);
  });
