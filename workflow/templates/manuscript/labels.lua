-- Numbers tables and figures by their labels, in order of appearance, and resolves the
-- cross-references to them.  A table or figure is a Div with an id `tbl:<name>` or
-- `fig:<name>` (class `supplement`: numbered S1, S2, ...); the filter puts "Table N" / "Figure N" (bold) at its top.  In the text,
-- `@tbl:<name>` becomes "Table N" (citeproc, which runs after this filter, never sees it).
-- A reference to a label that no table or figure has is left as "??" and reported.

local KINDS = { tbl = "Table", fig = "Figure" }
local numbers = {}

local function kind_of(id)
  local k = id:match("^(%a+):")
  return k and KINDS[k] and k or nil
end

local function number_divs(doc)
  local count = {}
  doc:walk({
    Div = function(div)
      local k = kind_of(div.identifier)
      if k then
        -- Supplementary tables and figures are numbered apart: Table S1, S2, ...
        local s = div.classes:includes("supplement") and "S" or ""
        count[k .. s] = (count[k .. s] or 0) + 1
        numbers[div.identifier] = KINDS[k] .. " " .. s .. count[k .. s]
      end
    end,
  })
end

local function label_div(div)
  local label = numbers[div.identifier]
  if label then
    div.content:insert(1, pandoc.Para({ pandoc.Strong({ pandoc.Str(label) }) }))
    div.classes:insert("numbered")
    return div
  end
end

local function resolve(cite)
  local out = pandoc.List()
  for i, c in ipairs(cite.citations) do
    if not kind_of(c.id) then
      return nil
    end
    if i > 1 then
      out:insert(pandoc.Str(i == #cite.citations and " and " or ", "))
    end
    local label = numbers[c.id]
    if not label then
      io.stderr:write("unknown table or figure label: " .. c.id .. "\n")
      label = "??"
    end
    out:insert(pandoc.Str(label))
  end
  return out
end

-- Each number's source cell (file, row, column), kept apart while pandoc parses: a span
-- `[0.35]{.stat ref=N}` gets the attributes of entry N of the table `stat-sources`.
local sources = {}

local function load_sources(doc)
  local path = doc.meta["stat-sources"]
  if not path then
    return
  end
  local f = io.open(pandoc.utils.stringify(path), "r")
  if f then
    sources = pandoc.json.decode(f:read("a"))
    f:close()
  end
  doc.meta["stat-sources"] = nil
end

local function expand(span)
  local n = span.attributes.ref
  if span.classes:includes("stat") and n then
    local attrs = sources[tonumber(n) + 1]
    span.attributes.ref = nil
    -- In a fixed order (Lua's pairs has none), so the bytes are the same every run.
    local keys = {}
    for k in pairs(attrs or {}) do
      table.insert(keys, k)
    end
    table.sort(keys)
    for _, k in ipairs(keys) do
      span.attributes[k] = attrs[k]
    end
    return span
  end
end

function Pandoc(doc)
  load_sources(doc)
  number_divs(doc)
  doc = doc:walk({ Div = label_div, Cite = resolve, Span = expand })
  return doc
end
