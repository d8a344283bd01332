// Package stubs holds LuaLS annotation files (---@class, ---@param,
// ---@return) for every module mailscript scripts can require, so editors
// complete and type-check scripts; `mailscript stubs DIR` writes them out.
package stubs

import "embed"

// FS holds the stubs, one file per module.
//
//go:embed *.lua
var FS embed.FS
