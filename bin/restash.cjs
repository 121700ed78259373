#!/usr/bin/env node
// The installed `restash` command (package.json's bin): checks the Node version, then runs
// bin/restash.ts in this same process. Plain CommonJS on purpose: a Node without type stripping
// fails on any .ts file before one line of it runs, so the check cannot live in bin/restash.ts.
"use strict";
var path = require("path");
var url = require("url");

var engines = require("../package.json").engines.node; // ">=24"
var need = Number(/\d+/.exec(engines)[0]);
if (Number(process.versions.node.split(".")[0]) < need) {
  process.stderr.write("restash needs Node.js " + need + " or newer (package.json engines: " + engines + "); " + process.execPath + " is v" + process.versions.node + "\n");
  process.exit(1);
}
import(url.pathToFileURL(path.join(__dirname, "restash.ts")).href).then(function (m) {
  m.main();
});
