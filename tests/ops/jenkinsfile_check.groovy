// Parses a Jenkinsfile with the Groovy compiler Jenkins itself runs pipelines with (2.4), then
// checks the shape of a declarative pipeline as the Pipeline Syntax reference defines it:
// one `pipeline { }` block with an agent and stages; sections and stage directives by name;
// every stage named by a unique string and holding exactly one of steps, parallel, stages or
// matrix; parallel holding only stages; `input` with a message; `environment` as NAME = value;
// steps as step calls only (bare Groovy belongs in `script { }`); `when` holding only built-in
// conditions (nested in not, allOf, anyOf). Prints each stage and branch, each stage's `when`
// conditions and input submitter, or every problem with its line, and exits 1.
// Usage: java -cp groovy-2.4.21.jar groovy.ui.GroovyMain jenkinsfile_check.groovy Jenkinsfile
import org.codehaus.groovy.ast.expr.*
import org.codehaus.groovy.ast.stmt.*
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

PIPELINE_SECTIONS = ['agent', 'environment', 'options', 'parameters', 'triggers', 'tools', 'stages',
                     'post', 'libraries'] as Set
STAGE_DIRECTIVES = ['agent', 'environment', 'input', 'options', 'when', 'tools', 'post', 'failFast',
                    'steps', 'parallel', 'stages', 'matrix'] as Set
STAGE_BODIES = ['steps', 'parallel', 'stages', 'matrix'] as Set
INPUT_KEYS = ['message', 'id', 'ok', 'submitter', 'submitterParameter', 'parameters'] as Set
WHEN_CONDITIONS = ['branch', 'buildingTag', 'changelog', 'changeset', 'changeRequest', 'environment',
                   'equals', 'expression', 'tag', 'not', 'allOf', 'anyOf', 'triggeredBy',
                   'beforeAgent', 'beforeInput', 'beforeOptions'] as Set
WHEN_NESTING = ['not', 'allOf', 'anyOf'] as Set
POST_CONDITIONS = ['always', 'changed', 'fixed', 'regression', 'aborted', 'failure', 'success',
                   'unstable', 'unsuccessful', 'cleanup'] as Set

problems = []
report = []
stageNames = [] as Set

def problem(node, text) { problems << "line ${node.lineNumber}: ${text}" }

// A statement `name(args) { ... }` or `name args`: its name, arguments and trailing closure.
def directiveOf(Statement statement) {
    if (!(statement instanceof ExpressionStatement)) return null
    def expression = statement.expression
    if (!(expression instanceof MethodCallExpression) || !expression.implicitThis) return null
    def args = expression.arguments instanceof ArgumentListExpression ? expression.arguments.expressions : []
    def closure = args && args[-1] instanceof ClosureExpression ? args[-1] : null
    [name: expression.methodAsString, args: closure ? args[0..<-1] : args, closure: closure, node: statement]
}

def statements(ClosureExpression closure) {
    def code = closure.code
    code instanceof BlockStatement ? code.statements : [code]
}

def calls(ClosureExpression closure, String where) {
    statements(closure).collect { statement ->
        def found = directiveOf(statement)
        if (!found) problem(statement, "${where}: expected a directive or step call, found ${statement.text}")
        found
    }.findAll { it }
}

def block(Map directive, String where) {
    if (!directive.closure) problem(directive.node, "${where}: `${directive.name}` needs a { } block")
    directive.closure
}

def checkSections(List found, Set allowed, String where) {
    def seen = [] as Set
    found.each {
        if (!(it.name in allowed)) problem(it.node, "${where}: `${it.name}` is not allowed here (allowed: ${allowed.join(', ')})")
        if (!seen.add(it.name)) problem(it.node, "${where}: `${it.name}` given twice")
    }
}

def checkEnvironment(Map directive, String where) {
    def closure = block(directive, where)
    if (!closure) return
    statements(closure).each { statement ->
        def expression = statement instanceof ExpressionStatement ? statement.expression : null
        def ok = expression instanceof BinaryExpression && expression.operation.text == '=' &&
                expression.leftExpression instanceof VariableExpression &&
                (expression.rightExpression instanceof ConstantExpression ||
                        expression.rightExpression instanceof GStringExpression ||
                        (expression.rightExpression instanceof MethodCallExpression &&
                                expression.rightExpression.methodAsString == 'credentials'))
        if (!ok) problem(statement, "${where}: environment entries are NAME = 'value' or credentials('id')")
    }
}

// A condition as the report shows it: `changeset=releases/a.yaml`, or its named arguments.
def conditionText(Map condition) {
    def call = condition.node.expression
    def named = call.arguments instanceof TupleExpression ? call.arguments.expressions.findAll {
        it instanceof NamedArgumentListExpression
    }.collectMany { it.mapEntryExpressions } : []
    if (named) return "${condition.name}(${named.collect { "${it.keyExpression.text}=${it.valueExpression.text}" }.join(',')})"
    "${condition.name}=${condition.args.collect { it.text }.join(',')}"
}

def checkWhen(Map directive, String where, List found) {
    def closure = block(directive, where)
    if (!closure) return
    def conditions = calls(closure, "${where} when")
    if (!conditions) problem(directive.node, "${where}: when holds no condition")
    conditions.each { condition ->
        if (!(condition.name in WHEN_CONDITIONS)) {
            problem(condition.node, "${where}: `${condition.name}` is not a when condition")
        } else if (condition.name in WHEN_NESTING) {
            def inner = []
            checkWhen(condition, "${where} ${condition.name}", inner)
            found << "${condition.name}(${inner.join(';')})"
        } else {
            found << conditionText(condition)
        }
    }
}

def checkStage(Map stage, String parent) {
    def label = stage.args.size() == 1 && stage.args[0] instanceof ConstantExpression ? stage.args[0].value : null
    if (!(label instanceof String)) { problem(stage.node, "${parent}: a stage is named by one string"); return }
    if (!stageNames.add(label)) problem(stage.node, "stage '${label}': stage names must be unique")
    def closure = block(stage, "stage '${label}'")
    if (!closure) return
    def where = "stage '${label}'"
    def found = calls(closure, where)
    checkSections(found, STAGE_DIRECTIVES, where)
    def bodies = found.findAll { it.name in STAGE_BODIES }
    if (bodies.size() != 1) problem(stage.node, "${where}: needs exactly one of ${STAGE_BODIES.join(', ')}")
    def flags = []
    found.each { entry ->
        switch (entry.name) {
            case 'steps':
                def steps = block(entry, where)
                if (steps && !calls(steps, "${where} steps")) problem(entry.node, "${where}: steps is empty")
                break
            case 'parallel':
            case 'stages':
                def inner = block(entry, where)
                if (!inner) break
                def children = calls(inner, "${where} ${entry.name}")
                if (!children) problem(entry.node, "${where}: ${entry.name} holds no stage")
                children.each { child ->
                    if (child.name != 'stage') problem(child.node, "${where}: ${entry.name} holds only stages, not `${child.name}`")
                    else {
                        report << "branch\t${label}\t${child.args ? child.args[0].text : ''}\t${lockOf(child)}"
                        checkStage(child, where)
                    }
                }
                break
            case 'input':
                def input = block(entry, where)
                if (!input) break
                def keys = calls(input, "${where} input")
                checkSections(keys, INPUT_KEYS, "${where} input")
                if (!keys.any { it.name == 'message' }) problem(entry.node, "${where}: input needs a message")
                flags << 'input'
                def submitter = keys.find { it.name == 'submitter' }
                report << "input\t${label}\t${submitter && submitter.args ? submitter.args[0].text : ''}"
                break
            case 'when':
                def conditions = []
                checkWhen(entry, where, conditions)
                report << "when\t${label}\t${conditions.join(';')}"
                break
            case 'environment':
                checkEnvironment(entry, where)
                break
            case 'options':
                if (block(entry, where)) calls(entry.closure, "${where} options")
                break
            case 'post':
                if (block(entry, where)) checkSections(calls(entry.closure, "${where} post"), POST_CONDITIONS, "${where} post")
                break
        }
    }
    if (parent == 'stages') report << "stage\t${label}\t${flags.join(',')}"
}

def lockOf(Map stage) {
    if (!stage.closure) return ''
    def options = calls(stage.closure, 'stage').find { it.name == 'options' }
    def lock = options?.closure ? calls(options.closure, 'options').find { it.name == 'lock' } : null
    lock && lock.args ? lock.args[0].text : ''
}

def unit = new CompilationUnit()
def file = new File(args[0])
unit.addSource(file.name, file.text)
unit.compile(Phases.CONVERSION)
def top = unit.AST.modules[0].statementBlock.statements
def pipelines = top.collect { directiveOf(it) }.findAll { it?.name == 'pipeline' }
if (top.size() != 1 || pipelines.size() != 1) {
    problems << "the file is one `pipeline { }` block and nothing else (found ${top.size()} statements)"
} else {
    def pipeline = pipelines[0]
    def closure = block(pipeline, 'pipeline')
    if (closure) {
        def sections = calls(closure, 'pipeline')
        checkSections(sections, PIPELINE_SECTIONS, 'pipeline')
        ['agent', 'stages'].each { name ->
            if (!sections.any { it.name == name }) problem(pipeline.node, "pipeline: `${name}` is required")
        }
        sections.each { section ->
            if (section.name == 'environment') checkEnvironment(section, 'pipeline')
            if (section.name == 'stages' && block(section, 'pipeline')) {
                def stages = calls(section.closure, 'stages')
                if (!stages) problem(section.node, 'stages holds no stage')
                stages.each {
                    if (it.name != 'stage') problem(it.node, "stages holds only stages, not `${it.name}`")
                    else checkStage(it, 'stages')
                }
            }
        }
    }
}
if (problems) {
    problems.each { System.err.println(it) }
    System.exit(1)
}
report.each { println it }
